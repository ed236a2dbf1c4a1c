"""MkDocs hook: every ``*.ipynb`` under docs/ also becomes a page (``<name>.md`` beside it), rendered at build
time with nbconvert's Markdown exporter from the committed notebook and its outputs (nothing is executed,
nothing is downloaded). The notebook file itself stays in the site for download.

Why a hook and not mkdocs-jupyter: a hook needs only nbconvert, which the docs extra already pulls in for the
notebook test's tooling, and works offline; mkdocs-jupyter is not available from every package index.
"""

from __future__ import annotations

from typing import Any


def on_files(files: Any, config: Any) -> Any:
    """Add one generated Markdown page per notebook (mkdocs >= 1.6's ``File.generated``)."""
    import nbformat
    from mkdocs.structure.files import File
    from nbconvert import MarkdownExporter

    exporter = MarkdownExporter()
    for notebook in [f for f in files if f.src_uri.endswith(".ipynb")]:
        page = notebook.src_uri[: -len(".ipynb")] + ".md"
        if files.get_file_from_path(page) is not None:
            continue
        node = nbformat.reads(notebook.content_string, as_version=4)
        body, _ = exporter.from_notebook_node(node)
        name = notebook.src_uri.rsplit("/", 1)[-1]
        header = (
            f"<!-- generated from {name} by docs/_hooks/notebooks.py: edit the notebook -->\n\n"
            f"[Download the notebook]({name}) · run it with `jupyter lab {name}`\n\n"
        )
        files.append(File.generated(config, page, content=header + body))
    return files
