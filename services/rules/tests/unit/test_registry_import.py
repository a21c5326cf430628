import pytest

from services.rules.registry.importer import parse_registry_csv
from shared.errors import InvalidInput

HEADER = "org_id,name,credit_code,former_names,address,contact_email,certificate_no,certificate_type,products,certificate_status\n"


def test_rows_are_grouped_into_organisations_with_their_certificates() -> None:
    data = (
        HEADER
        + "A,浙江宏远电器有限公司,91330212PDY0010123,宏远电器厂|浙江宏远电子有限公司,宁波,a@x.example,C1,CCC,HY-1|HY-2,有效\n"
        + "A,浙江宏远电器有限公司,91330212PDY0010123,,宁波,a@x.example,Q1,QMS,,暂停\n"
    ).encode()
    parsed = parse_registry_csv(data)
    assert parsed.rows == 2 and not parsed.problems
    org = parsed.organisations["A"]
    assert org.former_names == ["宏远电器厂", "浙江宏远电子有限公司"]
    assert [c.number for c in org.certificates] == ["C1", "Q1"]
    assert org.certificates[0].products == ["HY-1", "HY-2"]
    assert org.certificates[1].status == "suspended"
    assert len(org.contacts) == 1


def test_a_bad_row_is_reported_with_row_field_and_problem_and_the_rest_is_kept() -> None:
    data = (
        HEADER
        + "A,浙江宏远电器有限公司,91330212PDY0010124,,,,,,,\n"
        + "B,,,,,,,,,\n"
        + "C,昆山市凌岳线缆有限公司,91320583PDY0010391,,,not-an-email,,,,\n"
        + "D,东莞市瑞泽五金制品有限公司,91441900PDY001055F,,,,,,,\n"
    ).encode()
    parsed = parse_registry_csv(data)
    assert list(parsed.organisations) == ["D"]
    problems = {(p.row, p.field) for p in parsed.problems}
    assert (2, "credit_code") in problems
    assert (3, "name") in problems
    assert any(row == 4 and "email" in field for row, field in problems)
    assert parsed.rejected_rows == 3


def test_gbk_files_are_read() -> None:
    data = (HEADER + "A,浙江宏远电器有限公司,,,,,,,,\n").encode("gbk")
    assert parse_registry_csv(data).organisations["A"].name == "浙江宏远电器有限公司"


def test_a_file_without_the_required_columns_is_refused_with_their_names() -> None:
    with pytest.raises(InvalidInput, match="org_id"):
        parse_registry_csv(b"name,credit_code\nX,\n")


def test_sites_and_certificate_dates_are_read() -> None:
    data = (
        "org_id,name,certificate_no,certificate_type,sites,issued_on,expires_on\n"
        "A,浙江宏远电器有限公司,C1,CCC,宁波工厂：浙江省宁波市鄞州区姜山镇|江苏省昆山市某某路8号,2022-04-11,2027-04-10\n"
    ).encode()
    org = parse_registry_csv(data).organisations["A"]
    assert [(s.name, s.province, s.city) for s in org.sites] == [
        ("宁波工厂", "浙江", "宁波"),
        ("江苏省昆山市某某路8号", "江苏", "昆山"),
    ]
    certificate = org.certificates[0]
    assert str(certificate.expires_on) == "2027-04-10"
    assert certificate.sites_covered == ["浙江省宁波市鄞州区姜山镇", "江苏省昆山市某某路8号"]


def test_a_contact_says_how_it_wants_to_be_told() -> None:
    data = (
        "org_id,name,contact_email,contact_mobile,contact_language,contact_channels\n"
        "A,浙江宏远电器有限公司,a@x.example,13800138000,en,email\n"
        "B,广东澄川电器制造有限公司,b@x.example,13900139000,,\n"
        "C,昆山市凌岳线缆有限公司,c@x.example,,,fax\n"
    ).encode()
    parsed = parse_registry_csv(data)
    [a], [b] = parsed.organisations["A"].contacts, parsed.organisations["B"].contacts
    assert (a.language, a.channels) == ("en", ["email"])  # no texts for this one
    assert (b.language, b.channels) == ("zh-CN", ["email", "sms"])  # by default, both
    assert "C" not in parsed.organisations
    assert any(p.row == 4 and "channels" in p.field for p in parsed.problems), parsed.problems
