// SPDX-License-Identifier: MIT
// CohortRewards holds the tokens researchers deposit and pays contributors (and researchers
// who withdraw) against Merkle roots the Cohort ledger proposes, once they are effective.
//
// Two roles split the power over the money (DESIGN.md, "Who may move the money on chain"):
// - the anchorer (cohortd's hot ledger key) proposes (ledgerRoot, claimsRoot, lastSeq,
//   totalCredited). A proposal is refused when totalCredited (the claims tree's total) exceeds
//   every deposit ever received, or while the previous proposal is still in its challenge
//   period (one pending proposal at a time, so every proposal does become effective unless
//   vetoed). It becomes effective, and claimable, challengePeriod seconds after it was mined.
// - the guardian (a cold key, a Safe or a timelock; never on the server) may veto the pending
//   proposal before it is effective, pause and unpause claims, replace the anchorer (key
//   rotation, or a stolen hot key) and hand the guardian role on.
// A thief holding only the anchorer key can therefore propose a root paying itself, but the
// guardian (`cohort watch`) vetoes it during the challenge period, and nothing is claimable
// against it before then.
//
// - deposit(amount): pulls tokens from the caller, adds them to totalDeposited and emits
//   Deposited, which cohortd's deposit watcher credits to the caller's ledger account.
// - claim(account, cumulativeAmount, proof): checks the leaf
//   keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))) against the
//   effective claims root (OpenZeppelin StandardMerkleTree format, sorted-pair nodes, checked
//   by OpenZeppelin's MerkleProof.verifyCalldata) and pays account the difference to what it
//   was already paid. The claimed amount is recorded before the transfer
//   (checks-effects-interactions), so a token with hooks re-entering claim finds nothing left
//   and cannot be paid twice; the only external call is to the immutable token, so claim
//   needs no lock. The transfer reverts when the contract holds less than it owes.
//
// Gas: a proposal becomes effective by the passing of time, with no transaction. claim reads
// one root slot (_root: the last root promoted to effective) like a contract with a single
// root. Anyone may call promote() once the challenge period is over to move the proposal into
// that slot (cohortd's anchorer does, when it has nothing new to propose; the next propose
// also promotes), so no claim pays for it. Only a proof that fails against _root looks
// further, at a pending proposal whose challenge period is over, and promotes it (a fallback
// when nobody promoted: that one claim pays the promotion). A proof against an
// older effective root still verifies: harmless, since cumulative amounts only grow and the
// contract pays only the difference. Pausing swaps _root for PAUSED_ROOT, so the common path
// needs no paused flag. Before the first effective proposal both roots hold NO_ROOT (1): the
// constructor pays the zero-to-nonzero writes once. No proof verifies against NO_ROOT or
// PAUSED_ROOT (2): a root is a keccak256 output.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

contract CohortRewards is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 public constant NO_ROOT = bytes32(uint256(1));
    bytes32 public constant PAUSED_ROOT = bytes32(uint256(2));

    IERC20 public immutable token;
    /// Seconds between a proposal being mined and it becoming effective.
    uint64 public immutable challengePeriod;

    /// The anchorer and the lastSeq of the latest live (pending or effective) proposal.
    address public anchorer;
    uint64 public lastSeq;
    /// The guardian, when the pending proposal becomes effective (0: none pending), paused.
    address public guardian;
    uint64 private _pendingAt;
    bool public paused;
    /// The last root promoted to effective (PAUSED_ROOT while paused: then in _pausedRoot).
    bytes32 private _root;
    bytes32 private _pendingRoot;
    bytes32 private _pausedRoot;
    /// Every token amount deposit() ever received, and the lastSeq of the promoted root (what
    /// lastSeq falls back to on a veto), in one slot: propose reads the one and may write the
    /// other.
    uint192 public totalDeposited;
    uint64 private _rootSeq;
    mapping(address account => uint256 amount) public claimed;
    /// Proposals the guardian vetoed, by lastSeq.
    mapping(uint64 lastSeq => bool) public vetoed;

    event Deposited(address indexed researcher, uint256 amount);
    /// A proposal: claimable from effectiveAt (unix seconds) unless vetoed before.
    event Anchored(
        uint64 indexed lastSeq, bytes32 ledgerRoot, bytes32 claimsRoot, uint256 totalCredited, uint64 effectiveAt
    );
    event Vetoed(uint64 indexed lastSeq, bytes32 claimsRoot, address guardian);
    event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount);
    event AnchorerChanged(address indexed previousAnchorer, address indexed newAnchorer);
    event GuardianChanged(address indexed previousGuardian, address indexed newGuardian);
    event ClaimsPaused(address guardian);
    event ClaimsUnpaused(address guardian);

    error NotAnchorer();
    error NotGuardian();
    error ZeroAddress();
    error SameKey();
    error ZeroAmount();
    error StaleAnchor(uint64 lastSeq, uint64 proposed);
    error CreditsExceedDeposits(uint256 totalCredited, uint256 totalDeposited);
    error ChallengePeriodRunning(uint64 effectiveAt);
    error NothingToVeto();
    error AlreadyInState();
    error ClaimsArePaused();
    error InvalidProof();
    error NothingToPromote();
    error NothingToClaim(uint256 cumulativeAmount, uint256 alreadyClaimed);

    constructor(IERC20 token_, address anchorer_, address guardian_, uint64 challengePeriod_) {
        if (address(token_) == address(0) || anchorer_ == address(0) || guardian_ == address(0)) {
            revert ZeroAddress();
        }
        if (anchorer_ == guardian_) revert SameKey();
        token = token_;
        challengePeriod = challengePeriod_;
        anchorer = anchorer_;
        guardian = guardian_;
        _root = NO_ROOT;
        _pendingRoot = NO_ROOT;
        _pausedRoot = NO_ROOT;
        emit AnchorerChanged(address(0), anchorer_);
        emit GuardianChanged(address(0), guardian_);
    }

    modifier onlyGuardian() {
        if (msg.sender != guardian) revert NotGuardian();
        _;
    }

    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        // Credit what arrived, so a token that takes a fee cannot inflate the ledger.
        uint256 received = token.balanceOf(address(this)) - before;
        totalDeposited += SafeCast.toUint192(received);
        emit Deposited(msg.sender, received);
    }

    function propose(bytes32 ledgerRoot_, bytes32 claimsRoot_, uint64 lastSeq_, uint256 totalCredited)
        external
    {
        if (msg.sender != anchorer) revert NotAnchorer();
        if (lastSeq_ <= lastSeq) revert StaleAnchor(lastSeq, lastSeq_);
        uint256 deposited = totalDeposited;
        if (totalCredited > deposited) revert CreditsExceedDeposits(totalCredited, deposited);
        uint64 at = _pendingAt;
        if (at != 0) {
            if (block.timestamp < at) revert ChallengePeriodRunning(at);
            _promote();
        }
        uint64 effectiveAt = uint64(block.timestamp) + challengePeriod;
        _pendingRoot = claimsRoot_;
        _pendingAt = effectiveAt;
        lastSeq = lastSeq_;
        emit Anchored(lastSeq_, ledgerRoot_, claimsRoot_, totalCredited, effectiveAt);
    }

    /// Anyone may call: the pending proposal, once its challenge period is over, becomes the
    /// root claims prove against, so no claim pays the promotion. Reverts NothingToPromote when
    /// none is due (none pending, still in its challenge period, vetoed, or already promoted).
    function promote() external {
        uint64 at = _pendingAt;
        if (at == 0 || block.timestamp < at) revert NothingToPromote();
        _promote();
    }

    /// The pending proposal, whose challenge period is over, becomes the promoted root.
    function _promote() private {
        if (paused) _pausedRoot = _pendingRoot;
        else _root = _pendingRoot;
        _rootSeq = lastSeq;
        _pendingAt = 0;
    }

    function veto() external onlyGuardian {
        uint64 at = _pendingAt;
        if (at == 0 || block.timestamp >= at) revert NothingToVeto();
        uint64 seq = lastSeq;
        emit Vetoed(seq, _pendingRoot, msg.sender);
        vetoed[seq] = true;
        _pendingAt = 0;
        lastSeq = _rootSeq;
    }

    function pause() external onlyGuardian {
        if (paused) revert AlreadyInState();
        paused = true;
        _pausedRoot = _root;
        _root = PAUSED_ROOT;
        emit ClaimsPaused(msg.sender);
    }

    function unpause() external onlyGuardian {
        if (!paused) revert AlreadyInState();
        paused = false;
        _root = _pausedRoot;
        _pausedRoot = NO_ROOT;
        emit ClaimsUnpaused(msg.sender);
    }

    function setAnchorer(address newAnchorer) external onlyGuardian {
        if (newAnchorer == address(0)) revert ZeroAddress();
        if (newAnchorer == guardian) revert SameKey();
        emit AnchorerChanged(anchorer, newAnchorer);
        anchorer = newAnchorer;
    }

    function setGuardian(address newGuardian) external onlyGuardian {
        if (newGuardian == address(0)) revert ZeroAddress();
        if (newGuardian == anchorer) revert SameKey();
        emit GuardianChanged(guardian, newGuardian);
        guardian = newGuardian;
    }

    /// The root claims prove against now (NO_ROOT before the first effective proposal; the
    /// effective root also while paused, though claims then revert).
    function claimsRoot() public view returns (bytes32) {
        uint64 at = _pendingAt;
        if (at != 0 && block.timestamp >= at) return _pendingRoot;
        return paused ? _pausedRoot : _root;
    }

    /// lastSeq of the effective root (0 before the first).
    function effectiveLastSeq() external view returns (uint64) {
        uint64 at = _pendingAt;
        return at != 0 && block.timestamp >= at ? lastSeq : _rootSeq;
    }

    /// The proposal still in its challenge period: its claims root, lastSeq and effectiveAt
    /// (all zero when none).
    function pending() external view returns (bytes32 root, uint64 seq, uint64 effectiveAt) {
        uint64 at = _pendingAt;
        if (at != 0 && block.timestamp < at) return (_pendingRoot, lastSeq, at);
        return (bytes32(0), 0, 0);
    }

    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, _root, leaf)) {
            // Not the promoted root: paused, or a pending proposal that is now effective.
            if (paused) revert ClaimsArePaused();
            uint64 at = _pendingAt;
            if (at == 0 || block.timestamp < at || !MerkleProof.verifyCalldata(proof, _pendingRoot, leaf)) {
                revert InvalidProof();
            }
            _promote();
        }
        uint256 already = claimed[account];
        if (cumulativeAmount <= already) revert NothingToClaim(cumulativeAmount, already);
        unchecked {
            amount = cumulativeAmount - already; // > 0: checked just above
        }
        claimed[account] = cumulativeAmount;
        emit Claimed(account, amount, cumulativeAmount);
        token.safeTransfer(account, amount);
    }
}
