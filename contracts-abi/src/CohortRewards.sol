// SPDX-License-Identifier: MIT
// CohortRewards holds the tokens researchers deposit and pays contributors (and researchers
// who withdraw) against Merkle roots the Cohort ledger anchors.
//
// - deposit(amount): pulls tokens from the caller and emits Deposited, which cohortd's
//   deposit watcher credits to the caller's ledger account once confirmed.
// - anchor(ledgerRoot, claimsRoot, lastSeq): only the ledger signer; lastSeq (the last ledger
//   entry in the batch) strictly increases, so an old anchor cannot be replayed.
//   Until the first anchor both roots hold NO_ROOT (1), not zero: the constructor pays the
//   zero-to-nonzero storage writes (EIP-2200: 20,000 gas each) once, so the first anchor
//   costs what every later one does (nonzero to nonzero), as OpenZeppelin's ReentrancyGuard
//   keeps 1/2 instead of 0/1. No proof verifies against NO_ROOT: a root is a keccak256
//   output (a leaf or a node hash), and finding a preimage hashing to 1 is infeasible.
// - claim(account, cumulativeAmount, proof): checks the leaf
//   keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount)))) against the
//   latest claims root (OpenZeppelin StandardMerkleTree format, sorted-pair nodes, checked
//   by OpenZeppelin's MerkleProof.verifyCalldata: an audited library, not our own assembly) and pays account
//   the difference to what it was already paid. The claimed amount is recorded before the
//   transfer (checks-effects-interactions), so a token with transfer hooks re-entering
//   claim finds nothing left to claim and cannot make it pay twice; the only external call
//   is to the immutable token, so claim needs no reentrancy lock (which would cost every
//   claim ~300 gas). deposit keeps its lock: it credits a balance difference a re-entrant
//   deposit could inflate. The transfer reverts when the contract holds less than the
//   amount owed: it never pays what it lacks.
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

contract CohortRewards is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// ledgerRoot and claimsRoot before the first anchor: not a keccak256 output, so no leaf
    /// and no proof verifies against it (claim reverts with InvalidProof).
    bytes32 public constant NO_ROOT = bytes32(uint256(1));

    IERC20 public immutable token;
    /// The ledger signer and the last anchored sequence number share one storage slot.
    address public signer;
    uint64 public lastSeq;
    bytes32 public ledgerRoot;
    bytes32 public claimsRoot;
    mapping(address account => uint256 amount) public claimed;

    event Deposited(address indexed researcher, uint256 amount);
    event Anchored(uint64 indexed lastSeq, bytes32 ledgerRoot, bytes32 claimsRoot);
    event Claimed(address indexed account, uint256 amount, uint256 cumulativeAmount);
    event SignerChanged(address indexed previousSigner, address indexed newSigner);

    error NotSigner();
    error ZeroAddress();
    error ZeroAmount();
    error StaleAnchor(uint64 lastSeq, uint64 proposed);
    error InvalidProof();
    error NothingToClaim(uint256 cumulativeAmount, uint256 alreadyClaimed);

    constructor(IERC20 token_, address signer_) {
        if (address(token_) == address(0) || signer_ == address(0)) revert ZeroAddress();
        token = token_;
        signer = signer_;
        ledgerRoot = NO_ROOT;
        claimsRoot = NO_ROOT;
        emit SignerChanged(address(0), signer_);
    }

    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        // Credit what arrived, so a token that takes a fee cannot inflate the ledger.
        emit Deposited(msg.sender, token.balanceOf(address(this)) - before);
    }

    function anchor(bytes32 ledgerRoot_, bytes32 claimsRoot_, uint64 lastSeq_) external {
        if (msg.sender != signer) revert NotSigner();
        if (lastSeq_ <= lastSeq) revert StaleAnchor(lastSeq, lastSeq_);
        lastSeq = lastSeq_;
        ledgerRoot = ledgerRoot_;
        claimsRoot = claimsRoot_;
        emit Anchored(lastSeq_, ledgerRoot_, claimsRoot_);
    }

    function setSigner(address newSigner) external {
        if (msg.sender != signer) revert NotSigner();
        if (newSigner == address(0)) revert ZeroAddress();
        emit SignerChanged(signer, newSigner);
        signer = newSigner;
    }

    function claim(address account, uint256 cumulativeAmount, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, cumulativeAmount))));
        if (!MerkleProof.verifyCalldata(proof, claimsRoot, leaf)) revert InvalidProof();
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
