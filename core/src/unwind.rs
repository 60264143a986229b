//! Running many destructors when some of them panic.
//!
//! A region death or a registry drop destroys many objects; the contract is
//! that each one's destructor runs exactly once even if another's panics,
//! that the registry is consistent afterwards, and that the panic reaches
//! the caller. [`each_even_if_panicking`] calls every destructor and hands
//! back the first panic as a [`Deferred`] that the caller resumes once its
//! bookkeeping is done.
//!
//! With `std`, each call runs under `catch_unwind`, so any number of
//! destructors may panic; the first panic is resumed, the others are
//! dropped. Without `std` there is no `catch_unwind`: a guard finishes the
//! remaining calls while the first panic unwinds (as `Vec`'s drop does),
//! and a second panic during that unwinding aborts the process.

/// A panic caught from a destructor, resumed by [`Deferred::resume`].
#[must_use = "a caught panic must be resumed once the registry is consistent"]
pub(crate) struct Deferred {
    #[cfg(feature = "std")]
    payload: Option<alloc::boxed::Box<dyn core::any::Any + Send>>,
}

impl Deferred {
    /// No panic.
    pub fn none() -> Self {
        Deferred {
            #[cfg(feature = "std")]
            payload: None,
        }
    }

    /// Continues the caught panic, if any.
    pub fn resume(self) {
        #[cfg(feature = "std")]
        if let Some(payload) = self.payload {
            std::panic::resume_unwind(payload);
        }
    }
}

/// Calls `call` on every item, even if some calls panic (see the module
/// documentation); returns the first panic.
pub(crate) fn each_even_if_panicking<I: Iterator>(items: I, call: impl FnMut(I::Item)) -> Deferred {
    #[cfg(feature = "std")]
    {
        let mut call = call;
        let mut first = Deferred::none();
        for item in items {
            let called = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| call(item)));
            if let Err(payload) = called {
                first.payload.get_or_insert(payload);
            }
        }
        first
    }
    #[cfg(not(feature = "std"))]
    {
        /// Finishes the calls if one of them unwinds.
        struct Rest<I: Iterator, F: FnMut(I::Item)> {
            items: I,
            call: F,
        }
        impl<I: Iterator, F: FnMut(I::Item)> Drop for Rest<I, F> {
            fn drop(&mut self) {
                for item in self.items.by_ref() {
                    (self.call)(item);
                }
            }
        }
        let mut rest = Rest { items, call };
        while let Some(item) = rest.items.next() {
            (rest.call)(item);
        }
        Deferred::none()
    }
}
