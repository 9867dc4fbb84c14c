"""``vitals demo``: the simulated model city, live.

- :mod:`vitals.demo.run`: the demo's simulator (incidents every few minutes) and :func:`~vitals.demo.run.run_demo`.
- :mod:`vitals.demo.view`: the compact terminal view (city health, levels, worst districts, notifications).
- :mod:`vitals.demo.stack`: Prometheus and Alertmanager next to the demo when installed, their notifications
  received by :class:`~vitals.alerting.recorder.WebhookRecorder` and shown in the view.

Nothing is imported here (the CLI imports :mod:`vitals.demo.run` when the command runs).
"""
