from __future__ import annotations

import functools
import json

import factory
from django.contrib.auth.models import Group, User

from colorreview.models import ColorName, Prediction, Product, Suggestion
from inference.segment import default_region_table


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or ():
            self.groups.add(Group.objects.get(name=role))


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        skip_postgeneration_save = True

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    title = factory.Sequence(lambda n: f"Product {n}")
    category = "Tshirts"
    image = "images/aa/test.jpg"
    image_checksum = factory.Sequence(lambda n: f"{n:064x}")
    seller_color_raw = ""
    status = Product.Status.PREDICTED

    @factory.post_generation
    def tag(self, create, extracted, **kwargs):
        if extracted is not None:
            self.seller_color_raw = extracted
            self.seller_color = ColorName.objects.filter(name=extracted).first()
            self.final_color = self.seller_color.name if self.seller_color else extracted
            self.save()


def probabilities(**colors: float) -> dict[str, float]:
    """A classifier's probabilities as stored: every colour it names (the shipped classes), the rest on Grey."""
    rest = max(0.0, 1 - sum(colors.values()))
    out = {**dict.fromkeys(_classes(), 0.0), **colors}
    out["Grey"] = out.get("Grey", 0.0) + rest
    return out


@functools.lru_cache(maxsize=1)
def _classes() -> tuple[str, ...]:
    from inference.weights import WEIGHTS_DIR

    return tuple(json.loads((WEIGHTS_DIR / "colornet.json").read_text())["classes"])


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    product = factory.SubFactory(ProductFactory)
    image_checksum = factory.LazyAttribute(lambda o: o.product.image_checksum)
    model_version = "test-model"
    predicted_color = "Red"
    confidence = 0.97
    family = "Red"
    probabilities = factory.LazyAttribute(lambda o: probabilities(**{o.predicted_color: o.confidence}))
    dominant_colors = factory.LazyAttribute(lambda o: [{"color": o.predicted_color, "hex": "#c0282d",
                                                         "fraction": 0.8, "family": o.family, "name": "red",
                                                         "delta_e": 2.0}])
    region = "upper"
    category_region = factory.LazyAttribute(lambda o: default_region_table().region_for(o.product.category) or "")
    garment_fraction = 0.3


class SuggestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suggestion

    prediction = factory.SubFactory(PredictionFactory)
    product = factory.LazyAttribute(lambda o: o.prediction.product)
    kind = "mislabel"
    seller_color = factory.LazyAttribute(lambda o: o.product.seller_color_display)
    suggested_color = factory.LazyAttribute(lambda o: o.prediction.predicted_color)
    confidence = factory.LazyAttribute(lambda o: o.prediction.confidence)
    score = factory.LazyAttribute(lambda o: o.prediction.confidence)
