"""The service's exceptions form the one hierarchy that service/errors.py documents."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import service
from service import errors

FAMILIES = (errors.SetupError, errors.RequestError, errors.PatientDataError, errors.ToolError)


def _exception_classes():
    for module_info in pkgutil.walk_packages(service.__path__, "service."):
        if ".migrations" in module_info.name:
            continue  # Alembic's scripts run inside Alembic, not imported
        module = importlib.import_module(module_info.name)
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                yield value


def test_every_exception_of_ours_belongs_to_one_family():
    found = list(_exception_classes())
    assert len(found) >= 15  # the classes the docstring lists, and the module's own five
    for kind in found:
        if kind is errors.AzaCdsError or kind in FAMILIES:
            continue
        assert sum(issubclass(kind, family) for family in FAMILIES) == 1, kind


def test_the_docstring_names_every_exception_it_governs():
    for kind in _exception_classes():
        if kind.__module__ != "service.errors" and not kind.__name__.startswith("_"):
            assert kind.__name__ in errors.__doc__, kind
