"""Sphinx configuration: the API reference from the numpydoc docstrings, the
examples as a gallery, the user guide in Markdown (MyST)."""

import sklearn_gdlogreg

project = "sklearn-gdlogreg"
author = "The sklearn-gdlogreg developers"
copyright = "2026, the sklearn-gdlogreg developers"
release = version = sklearn_gdlogreg.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "images"]
templates_path = ["_templates"]
autosummary_generate = True
numpydoc_show_class_members = False  # autosummary lists the methods
numpydoc_class_members_toctree = False
myst_heading_anchors = 3  # the guide's links to its own sections

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "ignore_pattern": r"_output\.py",
    # Every example runs (each takes seconds): a broken one fails the build.
    "filename_pattern": r"\.py$",
    "download_all_examples": False,
}

html_theme = "alabaster"
html_static_path: list[str] = []
