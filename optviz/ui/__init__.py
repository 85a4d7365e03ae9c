"""The Streamlit app. Everything that imports Streamlit lives here."""
