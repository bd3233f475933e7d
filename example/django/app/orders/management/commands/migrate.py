# Django's own migrate, with the migration faults of APP_FAULT (shop/faults.py) in front:
# the migrations job's command stays the plain `python3 manage.py migrate --noinput`.
from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as MigrateCommand

from shop import faults


class Command(MigrateCommand):
    def handle(self, *args, **options):
        problem = faults.migrate_fault()
        if problem:
            raise CommandError(problem)
        return super().handle(*args, **options)
