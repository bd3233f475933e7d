# Schema 2 starts from the same 0001 as schema 1 (orders/migrations/), not a copy of it.
from importlib import import_module

Migration = import_module("orders.migrations.0001_initial").Migration
