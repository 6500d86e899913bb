"""The embedded Image Intelligence API v2: a service of its own, reached over HTTP like the hosted API.

Nothing is imported here: `service` starts it (in a thread, or under a server); `server` is the WSGI
app (Falcon), `schema` and `bodies` check requests against the v2 spec, `tokens` its bearer tokens;
`jobs` the jobs and the in-process store, `work` and `shared` who runs their images (a thread pool,
or Dramatiq on Redis), `analysis` one image, `detector` the CPU models. Only the process runners and
the command line import this package.
"""
