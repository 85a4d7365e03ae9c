"""Datasets, models and losses: optimizers training real models.

``datasets`` makes or loads the data and splits it; ``models`` and ``losses`` are
the registries of what can be trained and how it is scored; ``problem`` turns a
:class:`~optviz.data.problem.Task` into a :class:`ModelProblem` the engine steps
like a surface; ``training`` runs an experiment and measures what the views show;
``views`` draws it. Nothing here imports Streamlit.
"""
