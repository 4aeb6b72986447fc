"""Data quality rules: row rules (one pass per table), table rules, and the healthcare rule library."""
