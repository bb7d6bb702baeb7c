"""The bench twin: get-bflus's member read on the project's whole stack, with no authentication.

Beside the plain ceiling (bench/ceiling) it tells what the stack costs from what authentication costs.
Routed only by bench.urls; never in production.
"""

from rest_framework.response import Response

from bfluence.errors import NotFound
from bfluence.views import NoStoreAPIView
from communities.selectors import member_balance_get


class BenchMemberBflusView(NoStoreAPIView):
    authentication_classes = ()
    permission_classes = ()
    throttle_classes = ()
    http_method_names = ["get"]
    schema = None

    def get(self, request, community_id: int, client: str):
        member = member_balance_get(community_id=community_id, reference=client)
        if member is None:
            raise NotFound()
        return Response(
            {
                "community": community_id,
                "client": member.reference,
                "bflus": member.bflus,
                "updated_at": member.updated_at.isoformat(),
            }
        )
