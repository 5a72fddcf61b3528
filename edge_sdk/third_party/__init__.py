"""Third-party code shipped unchanged, each with its license and provenance (see each folder's README)."""
