"""tus 1.0.0 uploads of biometric files: create, append, verify into a blob, expire."""
