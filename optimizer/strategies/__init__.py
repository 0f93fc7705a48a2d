"""How a solve searches: one module per strategy (full model, column generation, Lagrangian
decomposition, large-neighbourhood search, local search)."""
