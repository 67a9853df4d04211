"""REST API (Django REST Framework); it calls the same services as the pages."""
