"""A request's job: built from the request (build.py), admitted and enqueued (admit.py), and
waited for or followed (wait.py)."""

from api.jobs.admit import Admission
from api.jobs.build import build_job, resolve_model
from api.jobs.wait import JobClient

__all__ = ["Admission", "JobClient", "build_job", "resolve_model"]
