"""Only for scrapyd-deploy, which builds the Scrapyd egg with ``python setup.py bdist_egg``
and would otherwise write a setup.py of its own here. Everything, including the ``scrapy``
entry point Scrapyd needs, is declared in pyproject.toml."""

from setuptools import setup

setup()
