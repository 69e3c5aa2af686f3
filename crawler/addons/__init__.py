"""Scrapy add-ons (ADDONS): each owns one mode of running, switched on by a setting."""
