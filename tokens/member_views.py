"""Partner data endpoints: communities' data behind bearer tokens. Tenancy comes from the token only,
never from headers, query or body. (Here, not in `communities`: they need token authentication, and
`communities` sits below `tokens`; docs/architecture.md.)"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from bfluence.errors import NotFound
from bfluence.views import NoStoreAPIView
from communities.selectors import member_balance_get
from tokens import schema
from tokens.permissions import requires_permission

OWN_COMMUNITY_ALIAS = "hub"


class MemberBflusView(NoStoreAPIView):
    """``GET /communities/{community}/client/{client}/get-bflus`` (SPEC §2.4).

    Another community's member, another community in the path and an unknown member all get the same
    404, so nothing about other tenants can be learned from here.
    """

    permission_classes = (requires_permission("bflus:read"),)
    http_method_names = ["get"]
    # Authentication reads this member in the same query as the token: one round trip per request.
    prefetch_member_kwarg = "client"

    @extend_schema(
        operation_id="get_bflus",
        tags=["communities"],
        parameters=[
            OpenApiParameter(
                "community",
                str,
                OpenApiParameter.PATH,
                description=_("'hub' (your own community) or your own client_id."),
            ),
            OpenApiParameter(
                "client",
                str,
                OpenApiParameter.PATH,
                description=_("Your community's reference for the member, e.g. 123."),
            ),
        ],
        responses={200: schema.MemberBflus, **schema.error_responses(400, 401, 403, 404, 429, 503)},
        summary=_("A member's bflus balance"),
        description=_("Needs the bflus:read permission. Any member that is not yours answers 404."),
    )
    def get(self, request, community: str, client: str):
        principal = request.user
        if community not in (OWN_COMMUNITY_ALIAS, principal.client_id):
            raise NotFound()
        if principal.member_prefetched:
            member = principal.member
        else:
            member = member_balance_get(community_id=principal.community_id, reference=client)
        if member is None:
            raise NotFound()
        return Response(
            {
                "community": principal.client_id,
                "client": member.reference,
                "bflus": member.bflus,
                "updated_at": member.updated_at.isoformat(),
            }
        )
