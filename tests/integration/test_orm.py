"""SQLAlchemy and Django model instances with cached methods and cached
properties (contract 3.10): the ORM's features after cached calls, and
instances freed by reference counting with the GC off."""

import copy
import pickle
import weakref

import pytest

# ---- SQLAlchemy: declarative model, session on in-memory sqlite ----
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column  # noqa: E402

import boundcache
from cores import released


class Base(DeclarativeBase):
    pass


class Account(Base):
    __tablename__ = "account"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str]
    balance: Mapped[int]

    @boundcache.lru_cache(maxsize=8)
    def with_interest(self, percent):
        return [self.balance * (100 + percent) // 100]

    @boundcache.cached_property
    def label(self):
        return f"{self.owner}: {self.balance}"


@pytest.fixture
def session():
    engine = sa.create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_sqlalchemy_session_after_cached_calls(session):
    account = Account(id=1, owner="ann", balance=100)
    first = account.with_interest(10)
    assert first == [110] and account.with_interest(10) is first
    assert account.label == "ann: 100"
    session.add(account)
    session.commit()  # expires every mapped attribute; the caches stay
    assert account.with_interest(10) is first
    assert account.balance == 100  # reloaded

    session.execute(sa.update(Account).where(Account.id == 1).values(balance=200))
    session.refresh(account)
    assert account.balance == 200
    # A cache keeps what it computed until cleared, as functools' would.
    assert account.with_interest(10) is first
    account.with_interest.cache_clear()
    del account.label
    assert account.with_interest(10) == [220] and account.label == "ann: 200"

    assert session.get(Account, 1) is account
    assert session.scalars(sa.select(Account).where(Account.owner == "ann")).one() is account
    assert sa.inspect(account).attrs.balance.value == 200
    # Only mapped attributes are in the session's view of the row.
    assert set(sa.inspect(account).attrs.keys()) == {"id", "owner", "balance"}
    session.delete(account)
    session.commit()
    assert session.scalars(sa.select(Account)).all() == []


def test_sqlalchemy_pickle_and_copy_after_cached_calls(session):
    account = Account(id=2, owner="bob", balance=50)
    session.add(account)
    session.commit()
    first = account.with_interest(0)
    for other in (pickle.loads(pickle.dumps(account)), copy.copy(account)):
        assert (other.id, other.owner, other.balance) == (2, "bob", 50)
        assert other.with_interest.cache_info().currsize == 0
        assert other.with_interest(0) == first and other.with_interest(0) is not first
    merged = session.merge(pickle.loads(pickle.dumps(account)))
    assert merged is account


def test_sqlalchemy_instances_freed_by_refcount(no_gc, session):
    account = Account(id=3, owner="cy", balance=1)
    account.with_interest(1)
    account.label  # noqa: B018
    session.add(account)
    session.commit()
    session.expunge(account)
    ref = weakref.ref(account)
    del account
    released()
    assert ref() is None
    assert Account.with_interest.cache_info().currsize == 0


# ---- Django: a model of a configured app, in-memory sqlite ----

import django  # noqa: E402
from django.conf import settings  # noqa: E402

if not settings.configured:
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        INSTALLED_APPS=["django.contrib.contenttypes"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()

from django.db import connection, models  # noqa: E402
from django.forms.models import model_to_dict  # noqa: E402


class Book(models.Model):
    title = models.CharField(max_length=50)
    pages = models.IntegerField()

    class Meta:
        app_label = "contenttypes"  # an installed app: no app of our own to register

    @boundcache.lru_cache(maxsize=8)
    def reading_hours(self, pages_per_hour):
        return [self.pages / pages_per_hour]

    @boundcache.cached_property
    def heading(self):
        return self.title.upper()


@pytest.fixture(scope="module")
def book_table():
    with connection.schema_editor() as editor:
        editor.create_model(Book)
    yield
    with connection.schema_editor() as editor:
        editor.delete_model(Book)


def test_django_model_after_cached_calls(book_table):
    book = Book(title="dune", pages=600)
    first = book.reading_hours(60)
    assert first == [10.0] and book.reading_hours(60) is first
    assert book.heading == "DUNE"
    book.save()
    assert book.pk is not None
    assert model_to_dict(book) == {"id": book.pk, "title": "dune", "pages": 600}

    Book.objects.filter(pk=book.pk).update(pages=300)
    book.refresh_from_db()
    assert book.pages == 300
    assert book.reading_hours(60) is first  # kept until cleared, as with functools
    book.reading_hours.cache_clear()
    assert book.reading_hours(60) == [5.0]

    fetched = Book.objects.get(pk=book.pk)
    assert fetched == book and fetched.reading_hours(60) is not book.reading_hours(60)
    assert list(Book.objects.values("title", "pages")) == [{"title": "dune", "pages": 300}]
    book.full_clean()

    for other in (pickle.loads(pickle.dumps(book)), copy.deepcopy(book)):
        assert other == book and (other.title, other.pages) == ("dune", 300)
        assert other.reading_hours.cache_info().currsize == 0
        assert other.reading_hours(60) == [5.0]
    book.delete()
    assert not Book.objects.exists()


def test_django_instances_freed_by_refcount(no_gc, book_table):
    book = Book.objects.create(title="emma", pages=400)
    book.reading_hours(40)
    book.heading  # noqa: B018
    ref = weakref.ref(book)
    del book
    released()
    assert ref() is None
    assert Book.reading_hours.cache_info().currsize == 0
