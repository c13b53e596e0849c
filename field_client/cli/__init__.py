"""``jemput-field``: argument parsing and plain Indonesian output over ``FieldClient``."""
