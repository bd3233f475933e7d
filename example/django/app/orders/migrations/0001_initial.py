from django.db import migrations, models

TICK = "calmswap tick"


def add_tick(apps, schema_editor):
    # Beat runs django-celery-beat's DatabaseScheduler: the schedule is a row, so it
    # outlives a color change and exactly one beat (calmswap's singleton) reads it.
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    every_2s, _ = IntervalSchedule.objects.get_or_create(every=2, period="seconds")
    PeriodicTask.objects.update_or_create(name=TICK, defaults={"task": "orders.tasks.tick", "interval": every_2s, "enabled": True})


def drop_tick(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TICK).delete()


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("django_celery_beat", "0016_alter_crontabschedule_timezone"),
    ]

    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("processed_at", models.DateTimeField(blank=True, null=True)),
                ("processed_by_color", models.CharField(blank=True, default="", max_length=16)),
                ("release", models.CharField(blank=True, default="", max_length=64)),
            ],
        ),
        migrations.RunPython(add_tick, drop_tick),
    ]
