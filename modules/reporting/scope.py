"""Which figures of the reporting summary a reader may see: those of the regions and districts of their scope.

The summary goes down to districts, no further. A reader with a whole region sees all of it; a reader with a
district sees that district's rows only (a region's totals would tell them about the districts they do not
cover); a reader with only mahallas sees nothing of the summary. National scope sees everything.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import Area
from webapp.models.area import AreaLevel


@dataclass(frozen=True)
class Reach:
    """Region codes a reader may see (None: all), and within them the district codes (None: every row of those
    regions, including the rows no district is given for)."""

    regions: frozenset[str] | None = None
    districts: frozenset[str] | None = None

    @property
    def national(self) -> bool:
        return self.regions is None

    def keeps_region(self, code: str) -> bool:
        return self.regions is None or code in self.regions

    def keeps_district(self, code: str, region: str | None = None) -> bool:
        if self.districts is not None:
            return code in self.districts
        return region is None or self.keeps_region(region)


def reach(user) -> Reach:
    if user.national_scope:
        return Reach()
    whole, districts = set(), {}
    for scope in user.scopes:
        area = scope.area
        if area.level == AreaLevel.region:
            whole.add(area.code)
        elif area.level == AreaLevel.district and area.parent is not None:
            districts[area.code] = area.parent.code
    partial = {code: region for code, region in districts.items() if region not in whole}
    if not partial:
        return Reach(frozenset(whole))
    # Some regions only in part: every row read must then name one of the reader's districts.
    inside = set(partial)
    if whole:
        regions = select(Area.id).where(Area.level == AreaLevel.region, Area.code.in_(sorted(whole)))
        inside.update(db.session.scalars(select(Area.code).where(Area.level == AreaLevel.district,
                                                                 Area.parent_id.in_(regions))))
    return Reach(frozenset(whole | set(partial.values())), frozenset(inside))

