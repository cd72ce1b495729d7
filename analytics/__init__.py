"""Pure analytics: a DuckDB connection in, a DataFrame out. No Streamlit here."""
