"""The laptop's storage: the SQLite outbox (and its migrations), records, upload rows, target
lists, the device profile, biometric files on disk and how long they are kept."""
