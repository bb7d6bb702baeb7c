"""One plain DRF view: a member's balance by community id and reference (the same read as the twin)."""

from django.http import Http404
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from bench.ceiling.models import Member


class MemberBflusView(APIView):
    def get(self, request, community_id: int, client: str):
        try:
            member = Member.objects.values("reference", "bflus", "updated_at").get(
                community_id=community_id, reference=client
            )
        except Member.DoesNotExist:
            raise Http404 from None
        return Response(
            {
                "community": community_id,
                "client": member["reference"],
                "bflus": member["bflus"],
                "updated_at": member["updated_at"].isoformat(),
            }
        )


urlpatterns = [
    path("bench/communities/<int:community_id>/client/<str:client>/bflus", MemberBflusView.as_view())
]
