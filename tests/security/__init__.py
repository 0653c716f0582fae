"""Attack tests: one test per attack in docs/security.md, named for the attack."""
