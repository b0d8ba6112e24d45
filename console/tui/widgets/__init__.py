"""Console widgets: each takes plain attributes (from `EngineSnapshot`) and renders them."""
