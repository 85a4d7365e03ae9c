"""Placeholder entry point so the shipping and test machinery has a page to serve.

The real app replaces this file on main. The tests rely only on: the page title
"optviz", the /_stcore/health endpoint, and no Streamlit exception on the page.
"""

import streamlit as st

st.set_page_config(page_title="optviz", page_icon="📉", layout="wide")
st.title("optviz")
st.write("See how torch.optim optimizers move.")
