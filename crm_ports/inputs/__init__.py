"""Reading what people write: YAML with line numbers (`yamlio`), schema validation that
reports file, line, entry and field (`validation`), and the parse cache (`cache`) that
lets a command skip both when its inputs did not change."""
