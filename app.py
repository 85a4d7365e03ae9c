"""optviz: see how optimizers move. Run with ``streamlit run app.py``."""

from optviz.ui.app import main

main()
