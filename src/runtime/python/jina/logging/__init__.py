from .logger import JinaLogger

__all__ = ['JinaLogger']
