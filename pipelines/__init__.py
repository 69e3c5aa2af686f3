"""Item pipelines, one stage per module: extract → normalise → validate → deduplicate → archive."""
