; Inno Setup 6 script for possync on Windows 10/11 (x64).
;
; Build the bundle first (on Windows, from the repository root; see docs/installer.md):
;     .venv\Scripts\pyinstaller --noconfirm --distpath build\installer\dist ^
;         --workpath build\installer\work installer\possync.spec
; then compile this script, with the version and the agent's peer port from the code:
;     "%ProgramFiles(x86)%\Inno Setup 6\ISCC.exe" /DAppVersion=<python -m agent.version> ^
;         /DPeerPort=<python -m shell.firewall port> installer\possync.iss
; (.github/workflows/windows.yml does exactly this on a Windows runner.)
; Output: build\installer\possync-<version>-windows-x64-setup.exe
;
; What it does: installs the one-folder bundle to Program Files\possync (or, when the user
; chooses an install for themselves only, to %LOCALAPPDATA%\Programs\possync), a Start menu
; entry, a desktop icon (task, on by default), an optional start at sign-in (task, off by
; default), checks for the Microsoft Edge WebView2 Runtime (see CheckWebView2 below), and,
; for a per-machine install, an inbound firewall rule for the peer port on private networks
; from the local subnet only, so the tablets of a POS sync with each other during an
; outage (the commands are shell/firewall.py's; uninstalling removes the rule).
; Uninstalling removes the program folder and the shortcuts; each user's data
; (%LOCALAPPDATA%\possync: unsent orders, web storage; %APPDATA%\possync: settings) and the
; saved password in Credential Manager stay, because they may hold orders the Odoo server
; has not received yet.
;
; Upgrades: running a newer setup over an install (same AppId) replaces the program folder
; in place, in the folder and with the tasks chosen before; `/VERYSILENT /SUPPRESSMSGBOXES
; /NORESTART` does it unattended. The data stays where it is, outside the program folder.
; A running possync is closed first (see CloseApplications and PrepareToInstall below).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  ; The PyInstaller output, relative to this script's folder.
  #define BundleDir "..\build\installer\dist\possync"
#endif
#ifndef PeerPort
  #error Pass the agent's peer port: /DPeerPort=<python -m shell.firewall port>
#endif
#define AppName "possync"
#define AppExe "possync.exe"

[Setup]
; Never change AppId: it is how upgrades and the uninstaller find an existing install.
AppId={{6F0C5A52-3D7B-4E5B-9C9A-2F6B1C8D4E71}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=possync
AppComments=Live, loss-free sync for Odoo POS Restaurant
VersionInfoVersion={#AppVersion}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Per machine by default (a tablet is shared by the staff); the dialog lets someone
; without admin rights install for themselves only.
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
; Qt 6 needs 64-bit Windows 10 1809 or later.
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0.17763
OutputDir=..\build\installer
OutputBaseFilename={#AppName}-{#AppVersion}-windows-x64-setup
SetupIconFile=icons\possync.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; A running possync is closed through the Restart Manager before its files are replaced;
; interactively its close guard still asks the user first when changes have not reached
; the server. "force": an upgrade cannot go on with the old files held open. Not started
; again afterwards: after a silent upgrade run by a deployment tool it would run as that
; tool's account; possync starts again from its icon or at the next sign-in.
CloseApplications=force
CloseApplicationsFilter=*.exe,*.dll,*.pyd
RestartApplications=no
; An upgrade keeps the folder, the Start menu group and the tasks chosen at the first
; install (Inno Setup's defaults, stated: an upgrade must not move or re-ask anything).
UsePreviousAppDir=yes
UsePreviousGroup=yes
UsePreviousTasks=yes
; Optional signing (recommended: unsigned PyInstaller executables trip SmartScreen and
; some antivirus products). Define a sign tool named "signtool" in the IDE or pass
; /Ssigntool="signtool.exe sign /fd sha256 /tr http://timestamp.example /td sha256 $f"
; to ISCC and uncomment:
; SignTool=signtool
; SignedUninstaller=yes

; Setup speaks the languages of the app (shell/locale): Inno Setup's own translations
; (shipped with it under Languages\) for its pages, [CustomMessages] below for possync's
; (%n: a line break, %1 and %2: the data folders, filled in by FmtMessage).
; The language dialog shows when Windows' display language is none of these.
[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"
Name: "french"; MessagesFile: "compiler:Languages\French.isl"
Name: "spanish"; MessagesFile: "compiler:Languages\Spanish.isl"

[CustomMessages]
english.AutostartTask=Start possync when a user signs in
english.StartupGroup=Start-up:
english.IconComment=Odoo POS with live sync
english.WebView2Missing=The Microsoft Edge WebView2 Runtime is not installed on this computer.%n%npossync does not need it: it brings its own web engine (Qt WebEngine). WebView2 is only used as a fallback if that engine cannot be loaded on this tablet, for example when an antivirus blocks or damages its files; without WebView2 possync would then not open.%n%nWindows 10 and 11 normally include WebView2. To add it, install the "Evergreen WebView2 Runtime" from Microsoft (developer.microsoft.com/microsoft-edge/webview2), before or after possync.%n%nContinue installing possync?
english.DataKept=possync was removed.%n%nEach user's possync data was kept: %1 (the local copy of orders, including any not yet received by the Odoo server) and %2 (settings); the saved password stays in Windows Credential Manager under "possync". Delete them once the Odoo server has every order.
french.AutostartTask=Lancer possync à l'ouverture de session d'un utilisateur
french.StartupGroup=Démarrage :
french.IconComment=PdV Odoo synchronisé en direct
french.WebView2Missing=Le runtime Microsoft Edge WebView2 n'est pas installé sur cet ordinateur.%n%npossync n'en a pas besoin : il apporte son propre moteur web (Qt WebEngine). WebView2 ne sert que de solution de secours si ce moteur ne peut pas être chargé sur cette tablette, par exemple quand un antivirus bloque ou endommage ses fichiers ; sans WebView2, possync ne s'ouvrirait alors pas.%n%nWindows 10 et 11 incluent normalement WebView2. Pour l'ajouter, installez le « Evergreen WebView2 Runtime » de Microsoft (developer.microsoft.com/microsoft-edge/webview2), avant ou après possync.%n%nContinuer l'installation de possync ?
french.DataKept=possync a été désinstallé.%n%nLes données possync de chaque utilisateur ont été conservées : %1 (la copie locale des commandes, y compris celles que le serveur Odoo n'a pas encore reçues) et %2 (les paramètres) ; le mot de passe enregistré reste dans le Gestionnaire d'identification Windows sous « possync ». Supprimez-les une fois que le serveur Odoo a reçu toutes les commandes.
spanish.AutostartTask=Iniciar possync cuando un usuario inicie sesión
spanish.StartupGroup=Inicio:
spanish.IconComment=TPV de Odoo sincronizado en directo
spanish.WebView2Missing=El runtime Microsoft Edge WebView2 no está instalado en este equipo.%n%npossync no lo necesita: incluye su propio motor web (Qt WebEngine). WebView2 solo se usa como alternativa si ese motor no puede cargarse en esta tableta, por ejemplo cuando un antivirus bloquea o daña sus archivos; sin WebView2, possync no se abriría.%n%nWindows 10 y 11 suelen incluir WebView2. Para añadirlo, instale el «Evergreen WebView2 Runtime» de Microsoft (developer.microsoft.com/microsoft-edge/webview2), antes o después de possync.%n%n¿Continuar con la instalación de possync?
spanish.DataKept=Se ha desinstalado possync.%n%nSe han conservado los datos de possync de cada usuario: %1 (la copia local de los pedidos, incluidos los que el servidor Odoo aún no ha recibido) y %2 (los ajustes); la contraseña guardada sigue en el Administrador de credenciales de Windows con el nombre «possync». Elimínelos cuando el servidor Odoo tenga todos los pedidos.

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "autostart"; Description: "{cm:AutostartTask}"; GroupDescription: "{cm:StartupGroup}"; Flags: unchecked

[InstallDelete]
; The previous version's bundle, so the folder holds exactly the new one (a module or Qt
; plugin the new version dropped must not be loaded from a leftover). possync writes
; nothing in the program folder: the data is in each user's profile and stays.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
; possync.exe (the app; also runs the agent as `possync.exe --agent run ...`),
; possync-console.exe (the same with a console, for status / doctor / --self-test) and
; _internal\ (Python, Qt, Qt WebEngine, the app's pages and the addon's scripts), and
; LICENSE and THIRD-PARTY-NOTICES (every bundled component with its licence).
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Comment: "{cm:IconComment}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: desktopicon
; {autostartup} is the Startup folder of all users for a per-machine install, of the
; installing user otherwise.
Name: "{autostartup}\{#AppName}"; Filename: "{app}\{#AppExe}"; WorkingDir: "{app}"; Tasks: autostart

[Run]
; The peer port, for the other tablets of the POS: private networks, local subnet only.
; Deleted first so an upgrade leaves one rule. Only a per-machine (administrator) install
; can change the firewall; `possync doctor` says what to do otherwise.
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall delete rule name=possync-peer-port"; Flags: runhidden; Check: IsAdminInstallMode
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall add rule name=possync-peer-port dir=in action=allow protocol=TCP localport={#PeerPort} profile=private remoteip=localsubnet"; Flags: runhidden; Check: IsAdminInstallMode
; As the user who started Setup, not as the elevated administrator: possync keeps its
; web storage, agent database and settings under that user's %LOCALAPPDATA% / %APPDATA%
; (and Qt WebEngine's sandbox stays on: possync never sets QTWEBENGINE_DISABLE_SANDBOX
; on Windows).
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent runasoriginaluser

[UninstallRun]
Filename: "{sys}\netsh.exe"; Parameters: "advfirewall firewall delete rule name=possync-peer-port"; Flags: runhidden; RunOnceId: "FirewallRule"; Check: IsAdminInstallMode

[UninstallDelete]
; Anything left in the program folder (possync itself writes nothing there).
Type: filesandordirs; Name: "{app}"

[Code]
const
  // The Evergreen WebView2 Runtime's client id (Microsoft's documented detection:
  // a "pv" value that is present, not empty and not 0.0.0.0).
  WebView2ClientKey = 'SOFTWARE\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}';
  WebView2ClientKeyWow = 'SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}';

function ValidVersion(const Version: String): Boolean;
begin
  Result := (Version <> '') and (Version <> '0.0.0.0');
end;

function WebView2Installed(): Boolean;
var
  Version: String;
begin
  Result :=
    (RegQueryStringValue(HKLM, WebView2ClientKeyWow, 'pv', Version) and ValidVersion(Version)) or
    (RegQueryStringValue(HKLM, WebView2ClientKey, 'pv', Version) and ValidVersion(Version)) or
    (RegQueryStringValue(HKCU, WebView2ClientKey, 'pv', Version) and ValidVersion(Version));
end;

// possync renders the POS with its own bundled engine (Qt WebEngine, a Chromium build
// inside the program folder), so the WebView2 Runtime is not required. pywebview falls
// back to Edge WebView2 only when the Qt modules cannot be loaded (a DLL missing, damaged
// or blocked by an antivirus); without WebView2 possync then cannot start at all.
// So: say so clearly, let the person decide, never block a silent install.
function CheckWebView2(): Boolean;
begin
  Result := True;
  if WebView2Installed() then begin
    Log('WebView2 Runtime found.');
    Exit;
  end;
  Log('WebView2 Runtime not found; possync will use its bundled engine (no fallback).');
  Result := SuppressibleMsgBox(FmtMessage(CustomMessage('WebView2Missing'), ['']),
    mbConfirmation, MB_YESNO, IDYES) = IDYES;
end;

function InitializeSetup(): Boolean;
begin
  Result := CheckWebView2();
end;

// An unattended upgrade has nobody to answer possync's close guard, and the agent runs
// without a window, which the Restart Manager cannot ask to close: stop the possync
// processes of this install before its files are replaced. Only those whose executable
// is under {app}: another install's possync, or another program of the same name, is
// left alone. Each is first asked to close (its main window's close: the close guard, a
// kiosk's PIN prompt), then stopped after 10 s. Nothing is lost: the agent acknowledges
// a change only once it is committed to its database, which survives being stopped at
// any moment, and the page sends what was not acknowledged again at the next start.
procedure StopRunningPossync();
var
  Script: String;
  ResultCode: Integer;
begin
  Script := ExpandConstant('{tmp}\stop-possync.ps1');
  SaveStringToFile(Script,
    'param([string]$App)' + #13#10 +
    '$under = $App.TrimEnd(''\'') + ''\''' + #13#10 +
    '$mine = @(Get-CimInstance Win32_Process | Where-Object { $_.ExecutablePath -and ' +
      '$_.ExecutablePath.StartsWith($under, [StringComparison]::OrdinalIgnoreCase) })' + #13#10 +
    'foreach ($p in $mine) { $g = Get-Process -Id $p.ProcessId -ErrorAction SilentlyContinue; ' +
      'if ($g) { [void]$g.CloseMainWindow() } }' + #13#10 +
    'if ($mine) { Wait-Process -Id $mine.ProcessId -Timeout 10 -ErrorAction SilentlyContinue }' + #13#10 +
    'foreach ($p in $mine) { Stop-Process -Id $p.ProcessId -Force -ErrorAction SilentlyContinue }' + #13#10,
    False);
  Exec(ExpandConstant('{sys}\WindowsPowerShell\v1.0\powershell.exe'),
    '-NoProfile -NonInteractive -ExecutionPolicy Bypass -File "' + Script + '" -App "' +
    ExpandConstant('{app}') + '"', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
  Log(Format('stop possync under %s: exit code %d', [ExpandConstant('{app}'), ResultCode]));
  Sleep(1000); // let Windows release the files of the stopped processes
end;

function PrepareToInstall(var NeedsRestart: Boolean): String;
begin
  Result := '';
  if WizardSilent() and FileExists(ExpandConstant('{app}\{#AppExe}')) then
    StopRunningPossync();
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and not UninstallSilent() then
    MsgBox(FmtMessage(CustomMessage('DataKept'),
      [GetEnv('LOCALAPPDATA') + '\possync', GetEnv('APPDATA') + '\possync']),
      mbInformation, MB_OK);
end;
