"""`from functools import lru_cache as memo`: ruff sees it, bugbear does not."""
from functools import cache as forever
from functools import lru_cache as memo


class Account:
    def __init__(self, balance):
        self.balance = balance

    @memo  # expect: BC001
    def doubled(self):
        return 2 * self.balance

    @memo(maxsize=16)  # expect: BC001
    def plus(self, amount):
        return self.balance + amount

    @forever  # expect: BC001
    def negated(self):
        return -self.balance


def make():
    account = Account(10)
    account.doubled()
    account.plus(1)
    account.negated()
    return [account]
