"""`qwthn ablate`: where does any gain come from? Arms x seeds x learning rates, resumable, with a verdict."""
