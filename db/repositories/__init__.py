"""Repositories: one module per aggregate; each takes an AsyncSession and never commits
(the caller — a middleware or a CLI command — owns the transaction)."""
