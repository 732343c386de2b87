"""Plotly figures of the app, one module per page topic (plotly is imported when a figure is made).

* :mod:`.style`: colours, markers and shared layouts;
* :mod:`.umap`: training cells and generated sets on the reference UMAP (or a joint re-embedding);
* :mod:`.expression`: expression of chosen genes, generated vs real;
* :mod:`.trajectory`: a trajectory on the map with its λ slider, gene trends, predicted labels along λ;
* :mod:`.evaluation`: evaluation metrics against the real-vs-real control;
* :mod:`.models`: a model card's training curves and cells per condition value.
"""
