"""Files on disk: atomic writes, and model files stored without pickle (plain arrays and a JSON
header, checked against a manifest before anything is read)."""
