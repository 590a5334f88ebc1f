"""What people look at: the dashboard pages and the progress badges, served by the app.

Server-rendered with Jinja2 from the same services as the API; no JavaScript framework, no
build step, no asset from the network (templates in ``templates/``, one stylesheet in
``static/``).
"""
