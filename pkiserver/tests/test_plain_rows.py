"""Instances made without `Model.__init__` (list pages, hand-written lookups): the ORM's own,
field for field; the ORM's way wherever something else is read or listens."""

from __future__ import annotations

import pytest
from django.db.models import F, signals

from accounts.models import User
from audit.models import AuditLog
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.models import Organization
from pkiserver.db import rows
from pkiserver.db.rows import Rows, plain, plain_rows

API = "/api/v1/certificates/"


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.fixture
def certificates(admin_a):
    ca = create_ca(admin_a)
    issued = [
        issue_certificate(admin_a, ca, f"host{i}.example.com", san_dns_names=[f"alt{i}.example.com", "é.example"])
        for i in range(3)
    ]
    Certificate.objects.filter(pk=issued[1].pk).update(revoked_at=F("not_before"), revocation_reason="keyCompromise")
    return ca, issued


@pytest.mark.parametrize("model", [Certificate, CertificateAuthority, User, Organization, AuditLog])
def test_instances_are_the_orms_field_for_field(certificates, model):
    orm = list(model.objects.order_by("pk"))
    made = list(plain_rows(model.objects.order_by("pk")))

    assert orm, model
    assert [type(obj) for obj in made] == [model] * len(orm)
    assert [_fields(obj) for obj in made] == [_fields(obj) for obj in orm]
    assert all(obj._state.adding is False and obj._state.db == "default" for obj in made)


def test_a_made_instance_saves_as_an_update_and_loads_its_relations(certificates):
    ca, issued = certificates
    (cert,) = plain_rows(Certificate.objects.filter(pk=issued[0].pk))

    assert cert.issuer == ca
    cert.common_name = "renamed.example.com"
    cert.save(update_fields=["common_name"])
    cert.save()  # a whole save is an UPDATE too: no second row, no duplicate key

    assert Certificate.objects.count() == len(issued)
    assert Certificate.objects.get(pk=cert.pk).common_name == "renamed.example.com"


@pytest.mark.parametrize(
    "shape",
    [
        lambda qs: qs.select_related("issuer"),
        lambda qs: qs.only("id", "common_name"),
        lambda qs: qs.defer("certificate"),
        lambda qs: qs.annotate(cn=F("common_name")),
    ],
    ids=["select_related", "only", "defer", "annotate"],
)
def test_other_shapes_of_query_take_the_orms_way(certificates, shape, monkeypatch):
    made = []
    monkeypatch.setattr(rows, "made", lambda *args: made.append(args))
    queryset = shape(Certificate.objects.order_by("pk"))

    got = list(plain_rows(queryset))

    assert made == []
    assert [(c.pk, c.common_name) for c in got] == [(c.pk, c.common_name) for c in queryset]
    assert hasattr(got[0], "cn") or not queryset.query.annotations


def test_a_model_with_init_receivers_takes_the_orms_way(certificates):
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance.pk)

    signals.post_init.connect(receiver, sender=Certificate)
    try:
        assert not plain(Certificate)
        got = list(plain_rows(Certificate.objects.order_by("pk")))
    finally:
        signals.post_init.disconnect(receiver, sender=Certificate)

    assert seen == [c.pk for c in got]
    assert plain(Certificate)


def test_rows_load_makes_the_same_instance(certificates):
    ca, _ = certificates
    reader = Rows(CertificateAuthority)

    loaded = reader.one(f"SELECT {reader.columns} FROM {reader.table} t WHERE t.id = %s", [ca.pk])

    assert _fields(loaded) == _fields(CertificateAuthority.objects.get(pk=ca.pk))
    assert loaded._state.adding is False


@pytest.mark.parametrize("filters", ["", "&status=valid", "&status=revoked", "&ca_id={ca}"])
def test_a_list_page_is_made_this_way(certificates, client_for, admin_a, monkeypatch, filters):
    ca, issued = certificates
    expected = {"": issued, "&status=valid": [issued[0], issued[2]], "&status=revoked": [issued[1]]}.get(
        filters, issued
    )
    made = []
    original = rows.made
    monkeypatch.setattr(rows, "made", lambda *args: made.append(args[0]) or original(*args))

    response = client_for(admin_a).get(f"{API}?limit=100{filters.format(ca=ca.pk)}")

    assert response.status_code == 200
    assert [c["id"] for c in response.json()] == [c.pk for c in expected]
    assert made.count(Certificate) == len(expected)


def test_a_partial_reader_takes_the_orms_way(certificates, monkeypatch):
    ca, _ = certificates
    made = []
    monkeypatch.setattr(rows, "made", lambda *args: made.append(args))
    reader = Rows(CertificateAuthority, only={"id", "name"})

    loaded = reader.one(f"SELECT {reader.columns} FROM {reader.table} t WHERE t.id = %s", [ca.pk])

    assert made == []
    assert (loaded.pk, loaded.name, loaded.get_deferred_fields() >= {"certificate"}) == (ca.pk, ca.name, True)


@pytest.mark.parametrize(
    "shape",
    [lambda qs: qs.none(), lambda qs: qs.filter(pk__in=[]), lambda qs: qs[5:5], lambda qs: qs[100:200]],
    ids=["none", "empty in", "empty slice", "past the end"],
)
def test_a_query_with_no_rows_gives_none(certificates, shape):
    queryset = shape(Certificate.objects.order_by("pk"))

    assert list(plain_rows(queryset)) == list(queryset) == []
