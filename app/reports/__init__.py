"""Reports on a mandate: built once as plain rows, rendered as Markdown, CSV, xlsx or HTML.

``vocabulary`` says how statuses and ratios are shown (the annual report's symbols);
``build`` gathers the rows from the services; ``render`` turns rows into a document and
needs no database.
"""
