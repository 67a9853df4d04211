"""Django admin: the vocabulary and region table are editable; catalogue data is read-only here
(decisions go through the review pages or the API so that every one is recorded)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from . import roles
from .models import (
    CategoryRegion,
    ColorName,
    DueWork,
    FlagRules,
    ImportBatch,
    ModelVersion,
    PipelineRun,
    Prediction,
    Product,
    ReviewEvent,
    Suggestion,
    Worker,
)
from .services.queue import QueueUnavailable, check_queue, send
from .templatetags.colorreview import flag_rules_words


class RoleAdmin(admin.ModelAdmin):
    """Open to holders of the admin role (staff accounts given it with `assign_role`), not only superusers."""

    def has_module_permission(self, request) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_view_permission(self, request, obj=None) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_add_permission(self, request) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_change_permission(self, request, obj=None) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    def has_delete_permission(self, request, obj=None) -> bool:
        return roles.has_role(request.user, roles.ADMIN)


@admin.register(ColorName)
class ColorNameAdmin(RoleAdmin):
    list_display = ("name", "hex", "family", "nameable", "active")
    list_filter = ("family", "nameable", "active")
    search_fields = ("name", "aliases")

    def delete_view(self, request, object_id, extra_context=None):
        """A colour products are tagged with is taken out of the vocabulary (Active off), not deleted."""
        colour = self.get_object(request, object_id)
        if colour is not None and Product.objects.filter(seller_color=colour).exists():
            self.message_user(request, f"{colour.name} is the colour of seller tags in the catalogue: turn Active off "
                                       "to take it out of the vocabulary instead (deleting it would lose what "
                                       "those tags map to).", level=messages.ERROR)
            return HttpResponseRedirect(reverse("admin:colorreview_colorname_change", args=[colour.pk]))
        return super().delete_view(request, object_id, extra_context)

    def save_model(self, request, obj, form, change):
        from .tasks import remap_seller_colors  # not at import: the tasks load the vision stack

        super().save_model(request, obj, form, change)
        try:
            check_queue()
        except QueueUnavailable as exc:
            self.message_user(request, f"Saved, but seller colours could not be mapped again: {exc}. Save the "
                                       "colour again when the queue is back.", level=messages.ERROR)
            return

        def queue() -> None:
            try:
                send(remap_seller_colors)
            except QueueUnavailable:  # gone in between: logged; saving the colour again maps them
                pass

        transaction.on_commit(queue)
        self.message_user(request, "Seller colours are being mapped again in the background; products whose tag "
                                   "now maps differently get their suggestions brought up to date.")


@admin.register(CategoryRegion)
class CategoryRegionAdmin(RoleAdmin):
    list_display = ("category", "region")
    list_filter = ("region",)
    search_fields = ("category",)


class ReadOnlyAdmin(RoleAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ("sku", "title", "category", "seller_color_raw", "final_color", "status", "archived_at")
    list_filter = ("status", ("archived_at", admin.EmptyFieldListFilter), "category")
    search_fields = ("sku", "title")
    actions = ["archive_selected", "unarchive_selected"]

    def has_archive_permission(self, request) -> bool:
        return roles.has_role(request.user, roles.ADMIN)

    @admin.action(description="Archive the selected products", permissions=["archive"])
    def archive_selected(self, request, queryset):
        from .services.archive import products_archive  # not at import: the services load the vision stack

        return self._archival(request, queryset, "archive_selected", products_archive, "archived")

    @admin.action(description="Unarchive the selected products", permissions=["archive"])
    def unarchive_selected(self, request, queryset):
        from .services.archive import products_unarchive

        return self._archival(request, queryset, "unarchive_selected", products_unarchive, "unarchived")

    def _archival(self, request, queryset, action: str, change, done: str):
        """A page that says how many and takes a note; on confirmation the service archives (or brings
        back) the selection chunk by chunk, each product with its event."""
        if request.POST.get("apply") == "1":
            outcome = change(user=request.user, note=request.POST.get("note", ""),
                             skus=queryset.order_by("pk").values_list("sku", flat=True).iterator())
            self.message_user(request, f"{outcome.changed} products {done}; {outcome.unchanged} already were.")
            return None
        return TemplateResponse(request, "admin/colorreview/product/archive.html", {
            **self.admin_site.each_context(request), "opts": self.model._meta, "action": action,
            "title": f"{action.split('_')[0].capitalize()} products", "count": queryset.count(),
            "select_across": request.POST.get("select_across") == "1",
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "checkbox_name": helpers.ACTION_CHECKBOX_NAME})


@admin.register(Prediction)
class PredictionAdmin(ReadOnlyAdmin):
    list_display = ("product", "predicted_color", "confidence", "region", "model_version", "created_at")
    list_filter = ("predicted_color", "region")
    search_fields = ("product__sku",)


@admin.register(Suggestion)
class SuggestionAdmin(ReadOnlyAdmin):
    list_display = ("product", "kind", "seller_color", "suggested_color", "score", "status", "decided_by")
    list_filter = ("kind", "status", "severity")
    search_fields = ("product__sku",)


@admin.register(ReviewEvent)
class ReviewEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "product", "action", "actor", "from_color", "to_color", "to_status")
    list_filter = ("action",)
    search_fields = ("product__sku", "actor__username")


@admin.register(PipelineRun)
class PipelineRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "status", "total", "done", "failed", "model_version", "created_at", "progress_at")


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdmin):
    list_display = ("name", "queues", "host", "pid", "started_at", "seen_at")


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    list_display = ("source_name", "created_at", "rows_total", "rows_created", "rows_updated", "rows_failed")


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = ("version", "status", "created_at", "requeued", "message")


@admin.register(FlagRules)
class FlagRulesAdmin(ReadOnlyAdmin):
    """The flag rules applied, each time they changed, with what judging every product again by them did."""

    list_display = ("applied_at", "products", "changed", "in_words")
    fields = ("applied_at", "products", "changed", "in_words", "rules", "fingerprint")
    readonly_fields = fields

    @admin.display(description="rules in words")
    def in_words(self, obj: FlagRules) -> str:
        return flag_rules_words(obj.rules)


@admin.register(DueWork)
class DueWorkAdmin(ReadOnlyAdmin):
    """Work a migration left owed to the data and not done yet: the next ``python manage.py migrate`` does it."""

    list_display = ("name", "requested_at", "reason")
    fields = list_display
    readonly_fields = fields
