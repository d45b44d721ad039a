//! trussed's software ("virt") platform with a per-card RNG seed, and the
//! backend dispatch opcard needs: auth (PINs), staging (chunked +
//! wrap-key-to-file), software RSA, and the core backend.
//!
//! `trussed::virt::with_platform` seeds its RNG with a constant, so two
//! virtual cards would generate the *same* keys. We therefore build the
//! platform ourselves from virt's public pieces (store, UI, runner).

use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng as _;
use trussed::{
    backend::{Backend as _, BackendId},
    pipe::TrussedChannel,
    serde_extensions::{ExtensionDispatch, ExtensionId, ExtensionImpl as _},
    service::ServiceResources,
    types::Context,
    virt::{self, StorageConfig, StoreConfig, UserInterface},
    Platform,
};
use trussed_auth::AuthExtension;
use trussed_auth_backend::{AuthBackend, AuthContext, FilesystemLayout};
use trussed_chunked::ChunkedExtension;
use trussed_core::{
    api::{reply, request, Reply, Request},
    types::Location,
    Error,
};
use trussed_rsa_alloc::SoftwareRsa;
use trussed_staging::{StagingBackend, StagingContext};
use trussed_wrap_key_to_file::WrapKeyToFileExtension;

/// The trussed client type handed to opcard.
pub type Client<'a> = virt::Client<'a, Dispatch>;

/// RAM storage (factory-fresh card on every start), or files in `state_dir`.
pub fn store_config(state_dir: Option<&Path>) -> std::io::Result<StoreConfig<'static>> {
    Ok(match state_dir {
        None => StoreConfig::ram(),
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            StoreConfig {
                internal: StorageConfig::filesystem(dir.join("internal.littlefs")),
                external: StorageConfig::filesystem(dir.join("external.littlefs")),
                volatile: StorageConfig::ram(),
            }
        }
    })
}

struct SeededPlatform<'a> {
    rng: ChaCha8Rng,
    store: virt::Store<'a>,
    ui: UserInterface,
}

impl<'a> Platform for SeededPlatform<'a> {
    type R = ChaCha8Rng;
    type S = virt::Store<'a>;
    type UI = UserInterface;

    fn rng(&mut self) -> &mut Self::R {
        &mut self.rng
    }
    fn store(&self) -> Self::S {
        self.store
    }
    fn user_interface(&mut self) -> &mut Self::UI {
        &mut self.ui
    }
}

/// Backends tried in order for every request of the opcard client.
const BACKENDS: &[BackendId<BackendIds>] = &[
    BackendId::Custom(BackendIds::Staging),
    BackendId::Custom(BackendIds::Auth),
    BackendId::Custom(BackendIds::SoftwareRsa),
    BackendId::Core,
];

/// Runs `f` with a trussed client for `client_id` on a fresh platform whose
/// RNG is seeded from `seed` (the card serial).
pub fn with_client<R>(
    mut store: StoreConfig<'_>,
    seed: u32,
    client_id: &str,
    f: impl FnOnce(Client<'_>) -> R,
) -> R {
    store.with_store(|store| {
        let platform = SeededPlatform {
            rng: ChaCha8Rng::seed_from_u64(0x6e6b_6261_0000_0000 | u64::from(seed)),
            store,
            ui: UserInterface::new(),
        };
        let channel = TrussedChannel::new();
        let (requester, responder) = channel.split().expect("fresh channel");
        let mut runner = virt::Runner::new();
        runner.add_endpoint(responder, client_id, BACKENDS);
        let client = Client::new(requester, runner.syscall(), None);
        runner.run(platform, Dispatch::default(), || f(client))
    })
}

#[derive(Debug)]
pub enum BackendIds {
    Staging,
    Auth,
    SoftwareRsa,
}

#[derive(Debug)]
pub enum ExtensionIds {
    Chunked,
    WrapKeyToFile,
    Auth,
}

impl From<ExtensionIds> for u8 {
    fn from(id: ExtensionIds) -> u8 {
        match id {
            ExtensionIds::Chunked => 0,
            ExtensionIds::WrapKeyToFile => 1,
            ExtensionIds::Auth => 2,
        }
    }
}

impl TryFrom<u8> for ExtensionIds {
    type Error = Error;
    fn try_from(id: u8) -> Result<Self, Error> {
        match id {
            0 => Ok(Self::Chunked),
            1 => Ok(Self::WrapKeyToFile),
            2 => Ok(Self::Auth),
            _ => Err(Error::FunctionNotSupported),
        }
    }
}

impl ExtensionId<ChunkedExtension> for Dispatch {
    type Id = ExtensionIds;
    const ID: ExtensionIds = ExtensionIds::Chunked;
}
impl ExtensionId<WrapKeyToFileExtension> for Dispatch {
    type Id = ExtensionIds;
    const ID: ExtensionIds = ExtensionIds::WrapKeyToFile;
}
impl ExtensionId<AuthExtension> for Dispatch {
    type Id = ExtensionIds;
    const ID: ExtensionIds = ExtensionIds::Auth;
}

pub struct Dispatch {
    staging: StagingBackend,
    auth: AuthBackend,
}

impl Default for Dispatch {
    fn default() -> Self {
        Self {
            staging: StagingBackend::new(),
            // Like the Nitrokey 3 firmware: PIN data in internal flash.
            auth: AuthBackend::new(Location::Internal, FilesystemLayout::V0),
        }
    }
}

#[derive(Default)]
pub struct DispatchContext {
    staging: StagingContext,
    auth: AuthContext,
}

impl ExtensionDispatch for Dispatch {
    type BackendId = BackendIds;
    type Context = DispatchContext;
    type ExtensionId = ExtensionIds;

    fn core_request<P: Platform>(
        &mut self,
        backend: &BackendIds,
        ctx: &mut Context<DispatchContext>,
        request: &Request,
        resources: &mut ServiceResources<P>,
    ) -> Result<Reply, Error> {
        match backend {
            BackendIds::Staging => {
                self.staging
                    .request(&mut ctx.core, &mut ctx.backends.staging, request, resources)
            }
            BackendIds::Auth => Err(Error::RequestNotAvailable),
            BackendIds::SoftwareRsa => SoftwareRsa.request(&mut ctx.core, &mut (), request, resources),
        }
    }

    fn extension_request<P: Platform>(
        &mut self,
        backend: &BackendIds,
        extension: &ExtensionIds,
        ctx: &mut Context<DispatchContext>,
        request: &request::SerdeExtension,
        resources: &mut ServiceResources<P>,
    ) -> Result<reply::SerdeExtension, Error> {
        let core = &mut ctx.core;
        match (backend, extension) {
            (BackendIds::Staging, ExtensionIds::Chunked) => {
                trussed::serde_extensions::ExtensionImpl::<ChunkedExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    &mut ctx.backends.staging,
                    request,
                    resources,
                )
            }
            (BackendIds::Staging, ExtensionIds::WrapKeyToFile) => {
                trussed::serde_extensions::ExtensionImpl::<WrapKeyToFileExtension>::extension_request_serialized(
                    &mut self.staging,
                    core,
                    &mut ctx.backends.staging,
                    request,
                    resources,
                )
            }
            (BackendIds::Auth, ExtensionIds::Auth) => self.auth.extension_request_serialized(
                core,
                &mut ctx.backends.auth,
                request,
                resources,
            ),
            _ => Err(Error::RequestNotAvailable),
        }
    }
}
