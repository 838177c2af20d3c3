"""Models of this package, one file per model named after it (``<model>.lower()``)."""
