"""The embedded Image Intelligence API v2: a service of its own, reached over HTTP like the hosted API.

Nothing is imported here: `service` starts it (in a thread, or under a server), `server` is the WSGI
app, `detector` the CPU models. Only the process runners and the command line import this package.
"""
