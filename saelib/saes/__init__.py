"""SAE variants as registered sae-lens training SAEs, one module per architecture (import the module you need)."""
