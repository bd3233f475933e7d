from django.db import migrations, models


class Migration(migrations.Migration):
    # Expand only: a nullable column with no default rewrites no rows and takes its lock
    # for a moment; schema-1 code, still serving, never names it.
    dependencies = [("orders", "0001_initial")]

    operations = [
        migrations.AddField(model_name="order", name="note", field=models.TextField(blank=True, null=True)),
    ]
