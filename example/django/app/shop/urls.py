from django.urls import path

from orders import views

urlpatterns = [
    path("", views.place_order),
    path("health/", views.health),
    path("stats/", views.stats),
]
