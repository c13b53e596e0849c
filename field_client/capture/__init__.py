"""Capturing residents: a record saved exactly once, fixes of records sent back, bulk imports,
the web app's drafts, the NIK check while typing and the operators' offline login."""
